"""What other contexts and the web console may call in payments."""

from merx.payments.outcomes import PaymentUpdate, contribute_order_listener
from merx.payments.providers import (BadSignature, Notification, PaymentProvider, PaymentTimeout, ProviderResult,
                                     is_session_provider, register_provider, session_provider, session_providers)
from merx.payments.reconciliation import import_statement, list_lines, resolve
from merx.payments.service import (action_url, capture, get_intent, intent_for_order, list_intents, list_notifications,
                                   list_providers, open_intent, record_external, refund, summary, void, webhook_secret)
from merx.payments.testcard import card_fingerprint

__all__ = [
    "BadSignature", "Notification", "PaymentProvider", "PaymentTimeout", "PaymentUpdate", "ProviderResult",
    "action_url", "capture", "card_fingerprint", "contribute_order_listener", "get_intent", "import_statement",
    "intent_for_order", "is_session_provider", "list_intents", "list_lines", "list_notifications", "list_providers",
    "open_intent", "record_external", "refund", "register_provider", "resolve", "session_provider",
    "session_providers", "summary", "void", "webhook_secret",
]
