"""Compiling an election's voter lists for the whole country (``voterctl roll compile``).

The registry is walked in IIN order, a chunk of IINs at a time (its opaque cursor marks where
a chunk ends). Worker processes fetch each chunk from both upstreams in batches of up to
1,000, decide every person with the pure core (``service.domain.decide``), render each
decision's audit entry, and write the chunk's list rows to a part file. The main process
commits chunks strictly in order: the chunk's audit entries and its progress row (cursor, part
file digest, counts) in one transaction. Once every chunk is committed, the part files are
assembled into one list per precinct (CSV or Parquet) plus a summary.

Resuming after an interruption starts after the last committed chunk: its entries and its
progress row committed together, so nobody is decided twice or skipped, and a part file
written for an uncommitted chunk is simply written again.
"""
