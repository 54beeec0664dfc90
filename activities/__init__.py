"""Activities: classes that receive their adapters and implement the signatures of `contracts.activities`."""
