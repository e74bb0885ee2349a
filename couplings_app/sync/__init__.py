"""The synchronization engine: pages of candidates, couplings and rows loaded per page, bulk
writes. Entry points call `synchronize()` (one mapping) or the functions of `jobs`."""
