"""The posts path: persist the post log, assign seqs, fan out, emit live events."""
