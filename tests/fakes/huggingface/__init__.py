"""A fake Hugging Face Hub serving model files, for the real huggingface_hub client in tests."""

from tests.fakes.huggingface.server import FakeHub

__all__ = ["FakeHub"]
