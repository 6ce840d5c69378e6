"""Live chat in Chromium with two pages open at once: a shopper chats from the storefront
(WebSocket), an agent answers from the console inbox, the chat becomes a ticket, and the
shopper sees both the answer and the ticket notice without reloading."""

from __future__ import annotations

import re

from playwright.sync_api import expect



def test_shopper_chats_agent_answers_and_the_chat_becomes_a_ticket(browser, page, served_shop, live_server, login,
                                                                    screenshot) -> None:
    shopper = page
    shopper.goto("/")
    shopper.click("#chat-open")
    shopper.fill("#chat-input", "Hello, does the desk lamp come with a bulb?")
    shopper.press("#chat-input", "Enter")
    expect(shopper.locator("#chat-log li.chat-visitor")).to_contain_text("does the desk lamp come with a bulb")

    agent_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    agent_context.set_default_timeout(15_000)
    agent = agent_context.new_page()
    try:
        login(agent, served_shop.users["support_agent"])
        agent.goto("/console/support/chats")
        agent.click("#chat-list a:has-text('Chat')")
        expect(agent.locator("#chat-messages")).to_contain_text("does the desk lamp come with a bulb")
        agent.fill("#chat-body", "Yes: a 6 W LED bulb is in the box.")
        agent.click("#chat-reply button[type=submit]")
        expect(agent.locator("#chat-messages li.chat-agent")).to_contain_text("6 W LED bulb")

        # the shopper's page receives the answer live (no reload)
        expect(shopper.locator("#chat-log li.chat-agent")).to_contain_text("6 W LED bulb")
        # it came over the WebSocket, not the long-poll fallback
        assert shopper.evaluate("document.getElementById('chat-state').textContent") == ""
        shopper.fill("#chat-input", "Great, and can I return it if I do not like it?")
        shopper.press("#chat-input", "Enter")
        expect(agent.locator("#chat-messages")).to_contain_text("can I return it")

        agent.click("#make-ticket")
        agent.wait_for_url(re.compile(r".*/console/support/tickets/\d+"))
        expect(agent.locator("#thread")).to_contain_text("does the desk lamp come with a bulb")
        expect(agent.locator("#thread")).to_contain_text("6 W LED bulb")
        expect(agent.locator("dl")).to_contain_text("chat (chat")
        expect(agent.locator("#ticket-status")).to_have_text("open")
        expect(shopper.locator("#chat-log li.chat-bot")).to_contain_text("We opened ticket T-")
        screenshot(agent, "support-chat-ticket")
        screenshot(shopper, "support-chat-shopper")
    finally:
        agent_context.close()
    assert not shopper.errors, shopper.errors
