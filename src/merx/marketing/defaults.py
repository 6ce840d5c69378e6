"""Built-in templates per key and language; a template edited in the console or through
`PUT /api/v1/templates/{key}/{locale}` replaces the built-in one. Text sources only: the HTML
part is made from the same source (paragraphs), rendered with HTML escaping."""

from __future__ import annotations

TRANSACTIONAL = ("order_confirmation", "payment_received", "ready_for_pickup", "shipped", "delivered",
                 "return_received", "refund_issued", "giveaway_winner", "line_refused", "quote_sent",
                 "cart_held", "payment_link")
MARKETING = ("abandoned_cart", "post_purchase", "win_back", "welcome", "newsletter", "newsletter_b",
             "browse_abandonment", "replenishment")

_LINES = "{% for l in order.lines %}- {{ l.quantity }} x {{ l.sku }}: {{ l.line_total }} {{ order.currency }}\n{% endfor %}"

# key -> locale -> (subject, text)
BUILT_IN: dict[str, dict[str, tuple[str, str]]] = {
    "order_confirmation": {
        "en": ("Your order {{ order.number }} is confirmed",
               "Hello {{ customer.first_name or '' }},\n\nthank you for your order {{ order.number }}.\n\n" + _LINES +
               "\nTotal: {{ order.total }} {{ order.currency }}\n\n{{ shop.name }}"),
        "pl": ("Potwierdzenie zamówienia {{ order.number }}",
               "Dzień dobry {{ customer.first_name or '' }},\n\ndziękujemy za zamówienie {{ order.number }}.\n\n" + _LINES +
               "\nRazem: {{ order.total }} {{ order.currency }}\n\n{{ shop.name }}"),
        "de": ("Ihre Bestellung {{ order.number }} ist bestätigt",
               "Hallo {{ customer.first_name or '' }},\n\nvielen Dank für Ihre Bestellung {{ order.number }}.\n\n" +
               _LINES + "\nSumme: {{ order.total }} {{ order.currency }}\n\n{{ shop.name }}"),
    },
    "payment_received": {
        "en": ("Payment received for order {{ order.number }}",
               "We received your payment of {{ payment.amount }} {{ payment.currency }} for order {{ order.number }}."),
        "pl": ("Otrzymaliśmy płatność za zamówienie {{ order.number }}",
               "Otrzymaliśmy płatność {{ payment.amount }} {{ payment.currency }} za zamówienie {{ order.number }}."),
        "de": ("Zahlung für Bestellung {{ order.number }} erhalten",
               "Wir haben Ihre Zahlung von {{ payment.amount }} {{ payment.currency }} für Bestellung "
               "{{ order.number }} erhalten."),
    },
    "ready_for_pickup": {
        "en": ("Order {{ order.number }} is ready for pickup",
               "Your order {{ order.number }} is waiting for you at {{ store.name }}.\n\nAddress: {{ store.address }}\n"
               "Opening hours: {{ store.hours }}\n\nBring the order number with you."),
        "pl": ("Zamówienie {{ order.number }} czeka na odbiór",
               "Twoje zamówienie {{ order.number }} czeka w sklepie {{ store.name }}.\n\nAdres: {{ store.address }}\n"
               "Godziny otwarcia: {{ store.hours }}\n\nZabierz ze sobą numer zamówienia."),
        "de": ("Bestellung {{ order.number }} ist abholbereit",
               "Ihre Bestellung {{ order.number }} liegt für Sie bereit in {{ store.name }}.\n\nAdresse: "
               "{{ store.address }}\nÖffnungszeiten: {{ store.hours }}"),
    },
    "shipped": {
        "en": ("Order {{ order.number }} is on its way",
               "Your order {{ order.number }} was shipped with {{ tracking.carrier }}.\n\nTracking number: "
               "{{ tracking.number }}{% if tracking.url %}\nTrack it: {{ tracking.url }}{% endif %}"),
        "pl": ("Zamówienie {{ order.number }} zostało wysłane",
               "Twoje zamówienie {{ order.number }} zostało nadane przez {{ tracking.carrier }}.\n\nNumer przesyłki: "
               "{{ tracking.number }}{% if tracking.url %}\nŚledź przesyłkę: {{ tracking.url }}{% endif %}"),
        "de": ("Bestellung {{ order.number }} ist unterwegs",
               "Ihre Bestellung {{ order.number }} wurde mit {{ tracking.carrier }} versandt.\n\nSendungsnummer: "
               "{{ tracking.number }}{% if tracking.url %}\nVerfolgen: {{ tracking.url }}{% endif %}"),
    },
    "delivered": {
        "en": ("Order {{ order.number }} was delivered", "Your order {{ order.number }} was delivered. Enjoy!"),
        "pl": ("Zamówienie {{ order.number }} zostało doręczone", "Twoje zamówienie {{ order.number }} zostało doręczone."),
        "de": ("Bestellung {{ order.number }} wurde zugestellt", "Ihre Bestellung {{ order.number }} wurde zugestellt."),
    },
    "return_received": {
        "en": ("We received your return for order {{ order.number }}",
               "The goods you returned from order {{ order.number }} arrived.{% if refund %} We will refund "
               "{{ refund.amount }} {{ refund.currency }}.{% endif %}"),
        "pl": ("Otrzymaliśmy zwrot z zamówienia {{ order.number }}",
               "Zwrócone towary z zamówienia {{ order.number }} dotarły.{% if refund %} Zwrócimy "
               "{{ refund.amount }} {{ refund.currency }}.{% endif %}"),
    },
    "refund_issued": {
        "en": ("Refund for order {{ order.number }}",
               "We refunded {{ refund.amount }} {{ refund.currency }} for order {{ order.number }}."),
        "pl": ("Zwrot pieniędzy za zamówienie {{ order.number }}",
               "Zwróciliśmy {{ refund.amount }} {{ refund.currency }} za zamówienie {{ order.number }}."),
    },
    "line_refused": {
        "en": ("An item of order {{ order.number }} cannot be delivered",
               "Hello {{ customer.first_name or '' }},\n\n{{ line.seller }} cannot deliver {{ line.quantity }} x "
               "{{ line.name }} ({{ line.sku }}) from your order {{ order.number }}"
               "{% if line.reason %}: {{ line.reason }}{% endif %}.\n\n"
               "{% if line.outcome == 'refunded' %}We refunded {{ refund.amount }} {{ refund.currency }}."
               "{% else %}You were not charged for it ({{ refund.amount }} {{ refund.currency }}).{% endif %}"
               " The rest of your order goes ahead.\n\n{{ shop.name }}"),
        "pl": ("Pozycja zamówienia {{ order.number }} nie zostanie dostarczona",
               "Dzień dobry {{ customer.first_name or '' }},\n\n{{ line.seller }} nie może dostarczyć "
               "{{ line.quantity }} x {{ line.name }} ({{ line.sku }}) z zamówienia {{ order.number }}"
               "{% if line.reason %}: {{ line.reason }}{% endif %}.\n\n"
               "{% if line.outcome == 'refunded' %}Zwróciliśmy {{ refund.amount }} {{ refund.currency }}."
               "{% else %}Nie pobraliśmy za nią opłaty ({{ refund.amount }} {{ refund.currency }}).{% endif %}"
               " Reszta zamówienia jest realizowana.\n\n{{ shop.name }}"),
        "de": ("Ein Artikel der Bestellung {{ order.number }} kann nicht geliefert werden",
               "Hallo {{ customer.first_name or '' }},\n\n{{ line.seller }} kann {{ line.quantity }} x "
               "{{ line.name }} ({{ line.sku }}) aus Ihrer Bestellung {{ order.number }} nicht liefern"
               "{% if line.reason %}: {{ line.reason }}{% endif %}.\n\n"
               "{% if line.outcome == 'refunded' %}Wir haben {{ refund.amount }} {{ refund.currency }} erstattet."
               "{% else %}Dieser Betrag ({{ refund.amount }} {{ refund.currency }}) wurde nicht abgebucht.{% endif %}"
               " Der Rest Ihrer Bestellung wird geliefert.\n\n{{ shop.name }}"),
    },
    "quote_sent": {
        "en": ("Your quote {{ quote.number }} from {{ shop.name }}",
               "Hello {{ customer.first_name or '' }},\n\nyour quote {{ quote.number }}"
               "{% if quote.account %} for {{ quote.account }}{% endif %} is ready: {{ quote.total }} "
               "{{ quote.currency }}, valid until {{ quote.valid_until }}.\n\nSee it, accept or decline it here:\n"
               "{{ quote.url }}\n\n{{ shop.name }}"),
        "pl": ("Oferta {{ quote.number }} od {{ shop.name }}",
               "Dzień dobry {{ customer.first_name or '' }},\n\nTwoja oferta {{ quote.number }}"
               "{% if quote.account %} dla {{ quote.account }}{% endif %} jest gotowa: {{ quote.total }} "
               "{{ quote.currency }}, ważna do {{ quote.valid_until }}.\n\nZobacz, przyjmij lub odrzuć ją tutaj:\n"
               "{{ quote.url }}\n\n{{ shop.name }}"),
        "de": ("Ihr Angebot {{ quote.number }} von {{ shop.name }}",
               "Hallo {{ customer.first_name or '' }},\n\nIhr Angebot {{ quote.number }}"
               "{% if quote.account %} für {{ quote.account }}{% endif %} ist fertig: {{ quote.total }} "
               "{{ quote.currency }}, gültig bis {{ quote.valid_until }}.\n\nAnsehen, annehmen oder ablehnen:\n"
               "{{ quote.url }}\n\n{{ shop.name }}"),
    },
    # instore: short enough for an SMS (the same source is the email's text)
    "cart_held": {
        "en": ("Your cart from {{ store.name }}",
               "Hello {{ customer.first_name or '' }}, your cart from {{ store.name }} ({{ cart.units }} items, "
               "{{ cart.total }} {{ cart.currency }}) is ready. Check out here until {{ cart.expires_on }}: "
               "{{ cart.url }}"),
        "pl": ("Twój koszyk ze sklepu {{ store.name }}",
               "Dzień dobry {{ customer.first_name or '' }}, Twój koszyk ze sklepu {{ store.name }} "
               "({{ cart.units }} szt., {{ cart.total }} {{ cart.currency }}) czeka. Zamów tutaj do "
               "{{ cart.expires_on }}: {{ cart.url }}"),
        "de": ("Ihr Warenkorb aus {{ store.name }}",
               "Hallo {{ customer.first_name or '' }}, Ihr Warenkorb aus {{ store.name }} ({{ cart.units }} Artikel, "
               "{{ cart.total }} {{ cart.currency }}) ist bereit. Bestellen Sie hier bis {{ cart.expires_on }}: "
               "{{ cart.url }}"),
    },
    "payment_link": {
        "en": ("Pay for order {{ order.number }}",
               "Order {{ order.number }}: {{ order.total }} {{ order.currency }} to pay. Pay here: {{ order.url }}"),
        "pl": ("Zapłać za zamówienie {{ order.number }}",
               "Zamówienie {{ order.number }}: do zapłaty {{ order.total }} {{ order.currency }}. Zapłać tutaj: "
               "{{ order.url }}"),
        "de": ("Bezahlen Sie Bestellung {{ order.number }}",
               "Bestellung {{ order.number }}: {{ order.total }} {{ order.currency }} zu zahlen. Hier bezahlen: "
               "{{ order.url }}"),
    },
    "giveaway_winner": {
        "en": ("You won: {{ giveaway.name }}", "Congratulations {{ customer.first_name or '' }}! You won our giveaway "
                                               "\"{{ giveaway.name }}\". We will be in touch about your prize."),
        "pl": ("Wygrana: {{ giveaway.name }}", "Gratulacje {{ customer.first_name or '' }}! Wygrywasz w konkursie "
                                               "\"{{ giveaway.name }}\". Skontaktujemy się w sprawie nagrody."),
    },
    "abandoned_cart": {
        "en": ("You left something in your cart", "Hello {{ customer.first_name or '' }},\n\nyour cart is still "
               "waiting for you.\n\n{{ link(shop.url ~ '/cart') }}\n\n{{ shop.name }}"),
        "pl": ("Coś zostało w Twoim koszyku", "Dzień dobry {{ customer.first_name or '' }},\n\nTwój koszyk wciąż "
               "na Ciebie czeka.\n\n{{ link(shop.url ~ '/cart') }}\n\n{{ shop.name }}"),
        "de": ("Sie haben etwas im Warenkorb vergessen", "Hallo {{ customer.first_name or '' }},\n\nIhr Warenkorb "
               "wartet noch auf Sie.\n\n{{ link(shop.url ~ '/cart') }}\n\n{{ shop.name }}"),
    },
    "browse_abandonment": {
        "en": ("Still thinking about {{ product.name }}?",
               "Hello {{ customer.first_name or '' }},\n\nyou were looking at {{ product.name }}. It is still "
               "here for you:\n\n{{ link(product.url) }}\n\n{{ shop.name }}"),
        "pl": ("Wciąż myślisz o {{ product.name }}?",
               "Dzień dobry {{ customer.first_name or '' }},\n\noglądałeś {{ product.name }}. Nadal na Ciebie "
               "czeka:\n\n{{ link(product.url) }}\n\n{{ shop.name }}"),
    },
    "replenishment": {
        "en": ("Time to restock {{ product.name }}?",
               "Hello {{ customer.first_name or '' }},\n\nyour {{ product.name }} may be running low. Order it "
               "again in a click:\n\n{{ link(product.url) }}\n\n{{ shop.name }}"),
        "pl": ("Czas uzupełnić {{ product.name }}?",
               "Dzień dobry {{ customer.first_name or '' }},\n\nTwój {{ product.name }} może się kończyć. Zamów "
               "ponownie jednym kliknięciem:\n\n{{ link(product.url) }}\n\n{{ shop.name }}"),
    },
    "post_purchase": {
        "en": ("How is your order?", "Hello {{ customer.first_name or '' }},\n\nwe hope you enjoy your purchase. "
               "Tell us how it went: {{ link(shop.url) }}"),
        "pl": ("Jak się sprawdza zakup?", "Dzień dobry {{ customer.first_name or '' }},\n\nmamy nadzieję, że zakup "
               "się sprawdza. Daj nam znać: {{ link(shop.url) }}"),
    },
    "win_back": {
        "en": ("We miss you", "Hello {{ customer.first_name or '' }},\n\nit has been a while. See what is new: "
               "{{ link(shop.url) }}"),
        "pl": ("Tęsknimy za Tobą", "Dzień dobry {{ customer.first_name or '' }},\n\ndawno Cię nie było. Zobacz "
               "nowości: {{ link(shop.url) }}"),
    },
    "welcome": {
        "en": ("Welcome to {{ shop.name }}", "Hello {{ customer.first_name or '' }},\n\nthank you for subscribing. "
               "{{ link(shop.url) }}"),
        "pl": ("Witamy w {{ shop.name }}", "Dzień dobry {{ customer.first_name or '' }},\n\ndziękujemy za zapis. "
               "{{ link(shop.url) }}"),
    },
    "newsletter": {
        "en": ("New this week at {{ shop.name }}", "Hello {{ customer.first_name or '' }},\n\nour new collection is "
               "here: {{ link(shop.url ~ '/search') }}"),
        "pl": ("Nowości w {{ shop.name }}", "Dzień dobry {{ customer.first_name or '' }},\n\nnowa kolekcja już "
               "jest: {{ link(shop.url ~ '/search') }}"),
    },
    "newsletter_b": {
        "en": ("{{ customer.first_name or 'Hello' }}, 20% off the new collection",
               "Hello {{ customer.first_name or '' }},\n\nthis week only: the new collection 20% off. "
               "{{ link(shop.url ~ '/search') }}"),
    },
}


def kind_of(key: str) -> str:
    return "transactional" if key in TRANSACTIONAL else "marketing"


def html_source(text_source: str) -> str:
    """The HTML part's source from a text source: blank-line paragraphs, line breaks kept."""
    paragraphs = [p for p in text_source.split("\n\n") if p.strip()]
    body = "".join("<p>" + p.replace("\n", "<br>\n") + "</p>\n" for p in paragraphs)
    return ("<!doctype html><html><body style=\"font-family:sans-serif;max-width:600px\">\n" + body +
            "</body></html>")
