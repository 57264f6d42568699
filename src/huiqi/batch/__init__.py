"""Batch processing (免申即享): all enterprises × all policies, and the synthetic registry it runs on."""
