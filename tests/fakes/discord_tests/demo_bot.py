"""A tiny discord.py bot that exercises every feature of the fake Discord.

Test-only: it stands in for the real kobo bot so the fake is proven against the real,
unchanged discord.py client.
"""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands

MODELS = ["ft:gpt-4o-mini:kobo:alpha", "ft:gpt-4o-mini:kobo:beta", "gpt-4o-mini"]


class PanelView(discord.ui.View):
    """A persistent-style view with one button that updates its own message."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Start", custom_id="panel:start", style=discord.ButtonStyle.green)
    async def start(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        button.disabled = True
        await interaction.response.edit_message(
            content=f"Started by {interaction.user.name}", view=self
        )

    @discord.ui.button(label="Stop", custom_id="panel:stop", style=discord.ButtonStyle.red)
    async def stop_panel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()  # a component defer acknowledges silently (type 6)
        await interaction.edit_original_response(content="Stopped", view=None)


class ModelPicker(discord.ui.View):
    @discord.ui.select(
        custom_id="pick:model",
        options=[discord.SelectOption(label=m, value=m) for m in MODELS],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"Picked {select.values[0]}", ephemeral=True)


class RenameModal(discord.ui.Modal, title="Rename robot"):
    new_name: discord.ui.TextInput = discord.ui.TextInput(
        label="New name", custom_id="rename:name", max_length=20
    )
    note: discord.ui.TextInput = discord.ui.TextInput(
        label="Note", custom_id="rename:note", required=False
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        note = f" ({self.note.value})" if self.note.value else ""
        await interaction.response.send_message(f"Renamed to {self.new_name.value}{note}")


class RobotCommands(app_commands.Group):
    def __init__(self) -> None:
        super().__init__(name="robot", description="Robot commands")

    @app_commands.command(name="status", description="Show one robot's status")
    async def status(self, interaction: discord.Interaction, robot_id: int) -> None:
        await interaction.response.send_message(f"Robot {robot_id} is online")


class DemoCog(commands.Cog):
    def __init__(self, bot: DemoBot) -> None:
        self.bot = bot

    @app_commands.command(name="hello", description="Say hello privately")
    @app_commands.describe(name="Who to greet")
    async def hello(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"Hello, {name}!", ephemeral=True)

    @app_commands.command(name="assign", description="Assign a model to a robot")
    @app_commands.default_permissions(manage_guild=True)
    async def assign(
        self,
        interaction: discord.Interaction,
        stack_id: app_commands.Range[int, 1, 99],
        model: str,
    ) -> None:
        embed = discord.Embed(title="Assigned", description=f"Stack-chan {stack_id} -> {model}")
        await interaction.response.send_message(embed=embed)

    @assign.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        stack = interaction.namespace.stack_id
        return [
            app_commands.Choice(name=f"{m} (stack {stack})", value=m)
            for m in MODELS
            if current.lower() in m.lower()
        ]

    @app_commands.command(name="report", description="Build a CSV report")
    async def report(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        data = b"stack,model\n4,ft:alpha\n"
        await interaction.followup.send(
            "Report ready", file=discord.File(io.BytesIO(data), filename="report.csv")
        )

    @app_commands.command(name="upload", description="Upload a sentence sheet")
    async def upload(self, interaction: discord.Interaction, sheet: discord.Attachment) -> None:
        data = await sheet.read()
        first_line = data.decode().splitlines()[0]
        await interaction.response.send_message(
            f"{sheet.filename}: {len(data)} bytes, first line {first_line!r}", ephemeral=True
        )

    @app_commands.command(name="panel", description="Show the control panel")
    async def panel(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Control panel", view=PanelView())

    @app_commands.command(name="rename", description="Rename a robot")
    async def rename(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(RenameModal())

    @app_commands.command(name="pick", description="Pick a model from a menu")
    async def pick(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Choose a model", view=ModelPicker())

    @app_commands.command(name="nap", description="Answer too late")
    async def nap(self, interaction: discord.Interaction) -> None:
        await asyncio.sleep(self.bot.nap_seconds)
        try:
            await interaction.response.send_message("Sorry I'm late")
        except discord.NotFound as exc:
            self.bot.late_error_code = exc.code

    @app_commands.command(name="steps", description="Reply, follow up, edit, delete")
    async def steps(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("step 1")
        original = await interaction.original_response()
        note = await interaction.followup.send(
            f"after {original.content}", ephemeral=True, wait=True
        )
        await note.edit(
            content="step 2 with log", attachments=[discord.File(io.BytesIO(b"ok"), "log.txt")]
        )
        await interaction.delete_original_response()

    @app_commands.command(name="slow", description="Defer, then edit the original response")
    async def slow(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.edit_original_response(content="Finished slowly")


class DemoBot(commands.Bot):
    """Syncs its commands to one guild in setup_hook, as a workshop bot would."""

    def __init__(self, guild_id: int) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, guild_ready_timeout=0.05
        )
        self.guild_id = guild_id
        self.synced: list[app_commands.AppCommand] = []
        self.nap_seconds = 0.0
        self.late_error_code: int | None = None

    async def setup_hook(self) -> None:
        await self.add_cog(DemoCog(self))
        self.tree.add_command(RobotCommands())
        self.add_view(PanelView())
        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        self.synced = await self.tree.sync(guild=guild)
