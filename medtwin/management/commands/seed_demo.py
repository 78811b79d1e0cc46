from django.conf import settings
from django.core.management.base import BaseCommand

from medtwin.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo ICU, its node inventory and the demo users if missing."

    def handle(self, *args, **options):
        ward, logins = seed_demo(settings.VAR_DIR / "demo-logins.txt")
        self.stdout.write(f"demo ward {ward.code} ready with {ward.beds.count()} beds")
        for name, password in logins.items():
            self.stdout.write(f"  {name:8} password {password}")
