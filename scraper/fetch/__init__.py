"""The fetch stage's plain parts: charset decoding, the render decision, address policy, journal.

The Scrapy side (spider, downloader middleware) calls these; none of them imports Scrapy.
"""
