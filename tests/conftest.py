"""Suite-wide settings."""

from hypothesis import settings

# Property tests check behaviour, not speed: a loaded CI machine must not fail them on time.
settings.register_profile("samlite", deadline=None)
settings.load_profile("samlite")
