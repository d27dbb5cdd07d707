"""The papers' published numbers, stored with their sources, and ours side by side."""

from gansweep.paper.compare import PAPER_RING_CSV, compare_with_paper, load_paper_ring

__all__ = ["PAPER_RING_CSV", "compare_with_paper", "load_paper_ring"]
