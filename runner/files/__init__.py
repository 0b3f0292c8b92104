"""Files on disk, for every part of the runner: atomic writes, safe names, confinement to the
project and output folders, content hashes."""
