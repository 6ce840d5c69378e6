"""What the web console, the demo and contexts above support may call: tickets for the
customer 360 and the dashboard, the console's reads and writes, chat, reviews, feedback, and
the auto-reply rule set (marketing answers incoming messages with it)."""

from merx.support.admin import (create_assignment_rule, create_auto_reply, create_canned_reply, create_policy,
                                create_team, get_assignment_rule, get_auto_reply, get_canned_reply, get_policy,
                                get_team, list_assignment_rules, list_auto_replies, list_canned_replies,
                                list_policies, list_teams, update_assignment_rule, update_auto_reply,
                                update_canned_reply, update_policy, update_team)
from merx.support.autoreplies import AutoReplyMatch, match_auto_reply
from merx.support.rules import INTENTS as AUTO_REPLY_INTENTS
from merx.support.chat import canned_replies, escalate, get_chat, hub, list_chats, messages_after
from merx.support.chat import post as post_chat_message
from merx.support.chat import start as start_chat
from merx.support.feedback import (add_canvas_item, answer, canvas, canvas_segment_ids, complete_task,
                                   create_follow_up_rule, create_survey, get_survey, list_surveys, list_tasks,
                                   send_survey, stats, update_survey, verbatims)
from merx.support.mailin import receive as receive_mail
from merx.support.mailout import send_pending as send_pending_mail
from merx.support.reviews import list_reviews, moderate, product_rating, submit as submit_review, summary as review_summary
from merx.support.reviews import reply as reply_to_review
from merx.support.reviews import ReviewStats, seller_review_stats
from merx.support.schemas import (AssignmentRuleIn, AutoReplyIn, CannedReplyIn, CanvasItemIn, ChatEscalateIn,
                                  ChatStart, FollowUpRuleIn, ReviewIn, SlaPolicyIn, SurveyIn, TeamIn, TicketCreate,
                                  TicketUpdate)
from merx.support.service import (add_note, create_ticket, get_ticket, list_tickets, list_tickets_stmt,
                                  open_ticket_count, open_tickets_of, reply, ticket_out, update_ticket)
from merx.support.sla import report as sla_report

__all__ = [
    "AssignmentRuleIn", "AutoReplyIn", "CannedReplyIn", "CanvasItemIn", "ChatEscalateIn", "ChatStart",
    "FollowUpRuleIn", "ReviewIn", "SlaPolicyIn", "SurveyIn", "TeamIn", "TicketCreate", "TicketUpdate",
    "add_canvas_item", "add_note", "answer", "canned_replies", "canvas", "canvas_segment_ids", "complete_task", "create_assignment_rule",
    "create_auto_reply", "create_canned_reply", "create_follow_up_rule", "create_policy", "create_survey",
    "create_team", "create_ticket", "escalate", "get_chat", "get_ticket", "hub", "list_assignment_rules",
    "list_auto_replies", "list_chats", "list_policies", "list_reviews", "list_surveys", "list_tasks", "list_teams",
    "list_tickets", "list_tickets_stmt", "messages_after", "moderate", "open_ticket_count", "open_tickets_of",
    "post_chat_message", "product_rating", "receive_mail", "reply", "reply_to_review", "review_summary",
    "send_pending_mail", "send_survey", "sla_report", "start_chat", "stats", "submit_review", "ticket_out",
    "update_ticket", "verbatims", "AutoReplyMatch", "match_auto_reply", "AUTO_REPLY_INTENTS",
    "ReviewStats", "seller_review_stats",
    "get_assignment_rule", "get_auto_reply", "get_canned_reply", "get_policy", "get_team", "get_survey",
    "list_canned_replies", "update_assignment_rule", "update_auto_reply", "update_canned_reply", "update_policy",
    "update_team", "update_survey",
]
