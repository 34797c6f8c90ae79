from result_aggregator.models import metadata

from huleedu_service_libs.migrations import run_migrations_online

run_migrations_online(metadata)
