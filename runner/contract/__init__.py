"""The parity suite: cases for every documented rule and guessed point (`cases`), played
against a target (`play`, `session`, `reach`), kept as normalised snapshots (`normalise`,
`snapshots`) and compared (`compare`). `wanform contract record|check` is its command line."""
