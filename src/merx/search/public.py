"""What the web console, the storefront and the demo may call in search: the search pipeline
with its request types, the merchandising tools (synonyms, boost rules, pins), the
zero-result report, building the index (and embedding the catalog ahead of it), and `set_product_rating` for the owner of product
reviews (the rating feeds stage 3 and the low-rating deboost; it joins the caller's unit of
work and does not commit)."""

from pathlib import Path

from merx.search.boosts import RULE_KINDS
from merx.search.ranking import Filters, SearchRequest
from merx.search.schemas import BoostRuleIn, PinIn, SynonymIn
from merx.search.service import (add_pin, add_synonym, delete_boost_rule, delete_pin, delete_synonym,
                                 list_boost_rules, list_pins, list_synonyms, register_data_dir,
                                 search, set_boost_rule, set_product_rating, stack_for, suggest_queries,
                                 zero_result_report)
from merx.search.replica import rebuild_index  # the replica's index and its cursor (search/replica.py)
from merx.search.semantic import retrieval_mode
from merx.search.warmup import start_embedding  # the demo: embed the catalog while it does other work


def indexed_products(data_dir: Path) -> int:
    """How many products the index under `data_dir` holds (0 before `merx search reindex`)."""
    return int(stack_for(data_dir).index.num_docs())


__all__ = [
    "BoostRuleIn", "Filters", "PinIn", "RULE_KINDS", "SearchRequest", "SynonymIn", "add_pin", "add_synonym",
    "delete_boost_rule", "delete_pin", "delete_synonym", "indexed_products", "list_boost_rules", "list_pins",
    "list_synonyms", "rebuild_index", "register_data_dir", "retrieval_mode", "search", "set_boost_rule",
    "set_product_rating", "start_embedding", "suggest_queries", "zero_result_report",
]
