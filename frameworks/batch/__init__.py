"""Spark-like batch framework: a PySpark-compatible RDD API over a DAG scheduler.

``from frameworks.batch import SparkContext`` then ``SparkContext("local[2]", "app")`` or
``SparkContext("mesos://host:5050", "app")``. See `frameworks.batch.backend` for the
engine/backend contract.
"""
