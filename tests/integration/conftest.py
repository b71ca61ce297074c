import pytest

from dcos.testing import QUICK_MASTER_FLAGS, ProcessCluster


@pytest.fixture
def cluster(tmp_path):
    """Two agents and a master that allocates every 0.2 s and loses a silent agent in 1.5 s."""
    c = ProcessCluster(tmp_path, agents=2, master_flags=list(QUICK_MASTER_FLAGS))
    try:
        yield c.start()
    finally:
        c.stop()
