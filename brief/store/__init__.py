"""Every query brief makes, split by domain. Functions take a Session and plain values.

Writes that tasks may repeat are made safe by unique keys (edition date,
delivery edition x subscriber) and by claiming rows with a conditional UPDATE.
Callers use the package as one namespace (``store.add_feed``); each module
holds one domain's statements.
"""

from brief.store._sql import insert_ignoring_conflicts
from brief.store.articles import (
    articles_for_update,
    articles_in_window,
    insert_articles,
    set_full_text,
    update_article,
)
from brief.store.deliveries import (
    add_pending_deliveries,
    claim_delivery,
    create_deliveries,
    create_due_deliveries,
    delivery_counts,
    fail_delivery,
    find_delivery,
    finish_delivery,
    pending_delivery_ids,
)
from brief.store.editions import (
    delete_unsent_edition,
    edition_for_date,
    get_edition,
    latest_edition,
    list_editions,
    save_edition,
)
from brief.store.events import add_mail_event, count_soft_failures, mail_events_for
from brief.store.feeds import (
    add_feed,
    check_feed_url,
    claim_due_feeds,
    feed_ids,
    feeds_for_update,
    get_feed_by_url,
    list_feeds,
    record_failure,
    record_fetch,
    remove_feed,
)
from brief.store.stats import (
    deliveries_by_status,
    failing_feeds,
    mail_events_by_kind,
    subscribers_by_reason,
    subscribers_by_status,
)
from brief.store.subscribers import (
    add_subscriber,
    find_subscriber,
    get_subscriber,
    held_back,
    list_subscribers,
    page_subscribers,
    subscriber_to_confirm,
    unsubscribe,
)

__all__ = [
    "add_feed",
    "add_mail_event",
    "add_pending_deliveries",
    "add_subscriber",
    "articles_for_update",
    "articles_in_window",
    "check_feed_url",
    "claim_delivery",
    "claim_due_feeds",
    "count_soft_failures",
    "create_deliveries",
    "create_due_deliveries",
    "delete_unsent_edition",
    "deliveries_by_status",
    "delivery_counts",
    "edition_for_date",
    "fail_delivery",
    "failing_feeds",
    "feed_ids",
    "feeds_for_update",
    "find_delivery",
    "find_subscriber",
    "finish_delivery",
    "get_edition",
    "get_feed_by_url",
    "get_subscriber",
    "held_back",
    "insert_articles",
    "insert_ignoring_conflicts",
    "latest_edition",
    "list_editions",
    "list_feeds",
    "list_subscribers",
    "mail_events_by_kind",
    "mail_events_for",
    "page_subscribers",
    "pending_delivery_ids",
    "record_failure",
    "record_fetch",
    "remove_feed",
    "save_edition",
    "set_full_text",
    "subscriber_to_confirm",
    "subscribers_by_reason",
    "subscribers_by_status",
    "unsubscribe",
    "update_article",
]
