# The projector against the real broker and a real registry: convergence of two groups, kill -9
# crash trials (SEERLOG_CRASH_TRIALS, default 6), dead letters, duplicates, the store lock.
sl_add_integration_script(test_project test-project.sh)
# The projector's HTTP API: nodes, filters, pages, summary, metrics, the watch stream.
sl_add_integration_script(test_api test-api.sh)
# The API behind TLS and authentication, its body and watcher limits, the clients' credentials.
sl_add_integration_script(test_api_security test-api-security.sh)
# The web dashboard, in headless chromium.
sl_add_integration_script(test_dashboard test-dashboard.sh)
# seerlog state / watch / top over the API.
sl_add_integration_script(test_cli_views test-cli-views.sh)
