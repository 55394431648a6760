"""Use cases: each runs the domain rules and writes their outcome in one transaction."""
