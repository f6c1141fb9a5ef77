"""Delivery channels for the digest, one class per channel, one module each:

    base.py       Channel, Message, ChannelConfigError, DeliveryError, Secret
    email.py      EmailChannel: one multipart message through an SMTP server
    slack.py      SlackChannel: Block Kit messages posted to an Incoming Webhook
    files.py      FileChannel: the Markdown digest file, DAY.md
    settings.py   load_settings / load_channels: defaults < channels file < environment

    channels = load_channels(path, env, names=["email", "slack"])   # the app floor gives both
    for name, channel in channels.items():
        for message in channel.messages(digest):                    # rendered, in order
            channel.deliver(message)                                # raises DeliveryError

`messages` and `preview` only render; only `deliver` sends or writes. A channel neither
remembers nor retries anything: the caller (the outbox) decides what was delivered.
Secrets are kept in `Secret` objects: repr()/str() of channels, configs and errors never show them.
"""
from alerts.channels.base import (  # noqa: F401
    DEFAULT_TIMEOUT,
    Channel,
    ChannelConfigError,
    DeliveryError,
    Message,
    Secret,
    mask_url,
)
from alerts.channels.email import EmailChannel, SmtpTarget  # noqa: F401
from alerts.channels.files import FileChannel, md_escape, render_markdown  # noqa: F401
from alerts.channels.settings import (  # noqa: F401
    CHANNEL_NAMES,
    load_channels,
    load_settings,
)
from alerts.channels.slack import SlackChannel  # noqa: F401
