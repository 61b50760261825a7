"""The code behind every repo's hooks (``entry.main``) and the push records POST_GIT reads."""
