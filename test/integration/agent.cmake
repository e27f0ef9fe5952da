# seerlog agent against the fixture's broker: events, heartbeats, status and services files,
# leave, (incarnation, seq) across restarts; and heartbeat throttling from the control topic.
if(TARGET sl_producer AND TARGET sl_sysinfo)
  # Plays a projector: writes ProjectorLag records (sl_lag_report_encode) to the control topic.
  add_executable(agent_lag_writer agent_lag_writer.c)
  target_link_libraries(agent_lag_writer PRIVATE sl_producer PkgConfig::RDKAFKA)

  sl_add_integration_script(test_agent test-agent.sh)
  sl_add_integration_script(test_agent_lag test-agent-lag.sh)
endif()

# seerlog control lag: registers the ProjectorLag schema and publishes reports.
sl_add_integration_script(test_control test-control.sh)

# Local backpressure: heartbeats coalesced, status changes kept, against a broker it stops.
sl_add_integration_script(test_agent_coalesce test-agent-coalesce.sh NO_FIXTURE)
