"""B2B sales: accounts and contacts, leads from every channel, the pipeline, activities and
follow-ups, quotes with approval and a buyer's acceptance link, contracts and their risk."""
