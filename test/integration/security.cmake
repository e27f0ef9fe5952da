# Kafka over SASL/SCRAM and TLS (issue 9): a broker of the test's own with a SASL_SSL listener
# (certificates and SCRAM user made by the test); registry, agent and projector with credentials
# from a config file; wrong password, missing TLS and half-configured settings refused.
sl_add_integration_script(test_kafka_security test-kafka-security.sh NO_FIXTURE)
set_tests_properties(test_kafka_security PROPERTIES TIMEOUT 240)
# The limits of one record (labels, services, string sizes, project.max.record.bytes): the
# producer refuses, the projector dead-letters with the reason and goes on.
sl_add_integration_script(test_limits test-limits.sh)
