"""A fake OpenAI API (files + fine-tuning) for the real openai SDK to talk to in tests."""

from tests.fakes.openai.server import FakeOpenAI, RecordedRequest

__all__ = ["FakeOpenAI", "RecordedRequest"]
