"""dcos/allocator: hierarchical DRF allocator (sans-IO) and its sorters.

Called by: the master core, which imports `HierarchicalAllocator` and `Allocation` from here.
"""

from dcos.allocator.hierarchical import HierarchicalAllocator
from dcos.allocator.interface import (
    GPU_RESOURCES,
    MIN_ALLOCATABLE_CPUS,
    MIN_ALLOCATABLE_MEM,
    MULTI_ROLE,
    Allocation,
    Allocator,
    Sorter,
)
from dcos.allocator.sorter import DRFSorter, RandomSorter, ResourcePool

__all__ = [
    "GPU_RESOURCES",
    "MIN_ALLOCATABLE_CPUS",
    "MIN_ALLOCATABLE_MEM",
    "MULTI_ROLE",
    "Allocation",
    "Allocator",
    "DRFSorter",
    "HierarchicalAllocator",
    "RandomSorter",
    "ResourcePool",
    "Sorter",
]
