# seerlog registry (schema-registry/server.cmake): its REST contract and restart, multi-instance
# id allocation and fail-over, security and bad input. Each test runs its own registries on free
# ports against the fixture's broker, with its own topic and group; python3 standard library,
# curl-free (urllib), kcat and openssl. See test-registry-common.sh.
sl_add_integration_script(test_registry_api test-registry-api.sh)
sl_add_integration_script(test_registry_cluster test-registry-cluster.sh)
sl_add_integration_script(test_registry_security test-registry-security.sh)
