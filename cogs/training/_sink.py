"""Posts fine-tuning notices in the channel each job was started from."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.language import server_language
from cogs.training._render import LOSS_CURVE_FILENAME, notice_message
from cogs.training._views import assign_view
from finetune.notices import DeliveryResult, Notice, NoticeKind

if TYPE_CHECKING:
    from bot.client import KoboBot

log = logging.getLogger(__name__)


class DiscordNoticeSink:
    def __init__(self, bot: KoboBot):
        self.bot = bot

    async def deliver(self, notice: Notice) -> DeliveryResult:
        channel = self.bot.get_partial_messageable(
            int(notice.channel_id), guild_id=int(notice.guild_id)
        )
        # Put into words now, in the server's language as it is at posting time.
        guild = self.bot.get_guild(int(notice.guild_id))
        language = server_language(self.bot.settings, guild)
        content, embed = notice_message(notice, language)
        # Only the person who started the job is notified, whatever else the text holds.
        owner = discord.AllowedMentions(users=[discord.Object(int(notice.requested_by))])
        extra: dict = {"allowed_mentions": owner}
        if notice.kind is NoticeKind.SUCCEEDED and notice.fine_tuned_model:
            extra["view"] = assign_view(notice.job_id, language)
        if notice.loss_curve_png:
            extra["file"] = discord.File(io.BytesIO(notice.loss_curve_png), LOSS_CURVE_FILENAME)
        try:
            # The nonce makes Discord drop a repeat of a notice posted just before a crash.
            await channel.send(content, embed=embed, nonce=notice.nonce, **extra)
        except discord.NotFound:
            log.warning("job %s: its channel %s is gone", notice.job_id, notice.channel_id)
            return DeliveryResult.undeliverable("the channel no longer exists")
        except discord.Forbidden:
            log.warning("job %s: no permission to post in %s", notice.job_id, notice.channel_id)
            return DeliveryResult.undeliverable("kobo may not post in the channel")
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
            return DeliveryResult.retry_later(f"Discord did not take the message: {exc}")
        return DeliveryResult.delivered()
