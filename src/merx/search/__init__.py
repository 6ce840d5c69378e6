"""Product search: analysis, index, ranking pipeline, merchandising, analytics."""
