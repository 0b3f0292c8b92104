"""File formats wanform reads and writes byte by byte, without a library: PNG's container."""
