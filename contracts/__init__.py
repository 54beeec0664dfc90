"""What workflows, activities and clients share: activity inputs, outputs and signatures, workflow ids,
search-attribute keys. No I/O, no adapter: the workflow sandbox and every door may import it."""
