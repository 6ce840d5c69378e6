"""What other contexts and the web console may call in marketing: linking a browser's
marketing cookie to the customer who ordered (attribution), the browser's in-app inbox, whether notifications really go
out by mail, the reads and reports the console shows, and its campaign and journey forms."""

from merx.marketing.tracking import VISITOR_COOKIE
from merx.marketing.reading import (get_journey, list_campaigns, list_journeys, list_messages, list_qr,
                                    messages_stmt, message_out)
from merx.marketing.reporting import campaign_report, source_report
from merx.marketing.sending import dispatch, dispatch_until_idle
from merx.marketing.giveaways import list_out as list_giveaways
from merx.marketing.reading import enrolments, get_message, qr_detail
from merx.marketing.templates_service import get_template, list_templates, preview, save_template
from merx.marketing.tracking import get_qr, qr_image
from merx.marketing.tracking import link_visitor
from merx.marketing.recipients import recipient_out, remember_timezone
from merx.marketing.inapp import inbox, mark_read, new_visitor_id, unread_count, valid_visitor
from merx.marketing.campaigns import CHANNELS as CAMPAIGN_CHANNELS, cancel as cancel_campaign, create_campaign
from merx.marketing.campaigns import pick_winner as pick_campaign_winner, schedule as schedule_campaign, update_campaign
from merx.marketing.journeys import set_active as set_journey_active
from merx.marketing.reading import campaign_out, get_campaign


def notifications_email(settings: object) -> bool:
    """True when order notifications are really emailed (MERX_SMTP_URL is set): a page may
    then say "we email you"."""
    from merx.core import mail

    return mail.delivers(mail.transport_for(settings))  # type: ignore[arg-type]


__all__ = ["enrolments", "get_message", "get_qr", "get_template", "list_giveaways", "preview", "qr_detail", "qr_image",
           "save_template", "VISITOR_COOKIE", "campaign_report", "dispatch", "dispatch_until_idle", "get_journey", "link_visitor",
           "list_campaigns", "list_journeys", "list_messages", "list_qr", "list_templates", "message_out",
           "messages_stmt", "notifications_email", "source_report", "inbox", "mark_read", "new_visitor_id", "unread_count",
           "valid_visitor", "recipient_out", "remember_timezone",
           # the console's campaign and journey forms
           "CAMPAIGN_CHANNELS", "campaign_out", "cancel_campaign", "create_campaign", "get_campaign", "pick_campaign_winner",
           "schedule_campaign", "set_journey_active", "update_campaign"]
