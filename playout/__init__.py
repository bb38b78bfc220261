"""The real-time engines that run a channel's timeline against a clock."""
