"""The bundled sample site: Yixinli- and Douban-style pages rendered from data/questions.json."""

from crawlers.sample_site.render import DATA_FILE, load_data
from crawlers.sample_site.server import SampleSite

__all__ = ["DATA_FILE", "SampleSite", "load_data"]
