import pytest

from tests.integration.cluster import ProcessCluster


@pytest.fixture
def cluster(tmp_path):
    c = ProcessCluster(tmp_path, agents=2, master_flags=[
        "--allocation-interval", "0.2", "--agent-ping-timeout", "0.5",
        "--max-agent-ping-timeouts", "3",
    ])
    try:
        yield c.start()
    finally:
        c.stop()
