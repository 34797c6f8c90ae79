-- One database per service (a service never reads another's). Run by the compose
-- `postgres-databases` step on every start: creating only what is missing, so a service added
-- later gets its database without touching the existing ones.
SELECT format('CREATE DATABASE %I', name)
FROM unnest(ARRAY[
    'huleedu_content_service',
    'huleedu_spellchecker',
    'huleedu_batch_orchestrator',
    'huleedu_essay_lifecycle',
    'huleedu_file_service',
    'huleedu_llm_provider',
    'huleedu_cj_assessment',
    'huleedu_result_aggregator'
]) AS name
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = name)
\gexec
