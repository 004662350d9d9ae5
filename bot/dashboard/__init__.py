"""The dashboard: the challenge register, themes, the 6-monthly report and the register's export,
behind sign-in with roles (``bot.dashboard.app``, ``bot.dashboard.auth``)."""
