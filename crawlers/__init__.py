"""The Scrapy project: spiders for Yixinli and Douban, plus the bundled sample site."""
