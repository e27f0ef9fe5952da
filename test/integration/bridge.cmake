# seerlog bridge against the fixture's broker and a projector: probes of tiny HTTP and TCP
# endpoints (bridge_server.py), statuses, native nodes left alone (changelog and API), restart,
# SIGHUP, usage errors.
sl_add_integration_script(test_bridge test-bridge.sh)
