"""Where a run's images go when `out` is an object store (`s3://bucket/prefix`), not a folder:
the URL, the credentials from the standard places, the S3 client (imported only when used)."""
