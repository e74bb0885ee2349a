"""WHICH records are linked and WHAT HAPPENED: couplings, synchronization jobs, errors."""
