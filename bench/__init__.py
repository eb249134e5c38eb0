"""`make bench`: provider-scale benchmarks, each hot path measured beside its raw-SQL baseline in one run.

Run ``python -m bench --help``. The data goes to a database of its own (``<name>_bench``
next to DATABASE_URL's, or BENCH_DATABASE_URL), so dev and test data are never touched.
"""
