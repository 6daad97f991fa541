"""Domain operations. Each takes a Session as its first argument and never commits."""
