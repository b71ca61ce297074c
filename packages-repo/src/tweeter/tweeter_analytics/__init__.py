"""tweeter-analytics: a `frameworks.batch` driver that counts the top words and hashtags of
every tweeter message on the cluster's executors and writes them back to Redis.

Modules: `text` (tokenization, documented there), `job` (the batch computation), `__main__`
(the long-running program the package runs: `python -m tweeter_analytics`).
"""
