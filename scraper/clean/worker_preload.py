"""Imported by the clean pool's forkserver only (:mod:`scraper.clean.pool`): the stages are
imported and run once there, and every worker forked from it starts warm."""

from scraper.clean.pool import warm_up

warm_up()
