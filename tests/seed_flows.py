"""The two flows of seed 004 (FunctionFlow best practices 1 and 2), shared by the fdl and engine tests."""

# Seed 004, "Poll for task status", with the OCR damage repaired (job_id, try_count, GetJobStatus).
POLL_FOR_TASK_STATUS = """\
version: v1
type: flow
steps:
  - type: task
    name: StartJob
    resourceArn: acs:fc:cn-hangzhou:123456789:services/fnf-demo/functions/StartJob
  - type: pass
    name: Init
    outputMappings:
      - target: try_count
        source: 0
  - type: wait
    name: Wait10s
    duration: 10
  - type: task
    name: GetJobStatus
    resourceArn: acs:fc:cn-hangzhou:123456789:services/fnf-demo/functions/GetJobStatus
    inputMappings:
      - target: job_id
        source: $local.job_id
      - target: delay
        source: $input.delay
      - target: try_count
        source: $local.try_count
  - type: choice
    name: CheckJobComplete
    inputMappings:
      - target: status
        source: $local.job_status
      - target: try_count
        source: $local.try_count
    choices:
      - condition: $.status == "success"
        goto: JobSucceeded
      - condition: $.try_count > 3
        goto: JobFailed
      - condition: $.status == "running"
        goto: Wait10s
  - type: succeed
    name: JobSucceeded
  - type: fail
    name: JobFailed
"""

# Seed 004, "Reliably process distributed multi-step transactions" (the saga), repaired: snake_case
# names (buy_train_ticket, reserve_hotel, …), the CancelFlight mappings as a list, and the
# OrderFailed step the catch of BuyTrainTicket jumps to (cut off in the seed).
SAGA = """\
version: v1
type: flow
steps:
  - type: task
    resourceArn: acs:fc:cn-hangzhou:123456789:services/fnf-demo/functions/Operation
    name: BuyTrainTicket
    inputMappings:
      - target: operation
        source: buy_train_ticket
      - target: buy_train_ticket
        source: $input.buy_train_ticket_result
    catch:
      - errors:
          - FC.Unknown
        goto: OrderFailed
  - type: task
    resourceArn: acs:fc:cn-hangzhou:123456789:services/fnf-demo/functions/Operation
    name: ReserveFlight
    inputMappings:
      - target: operation
        source: reserve_flight
      - target: reserve_flight
        source: $input.reserve_flight_result
    catch: # When ReserveFlight fails with FC.Unknown, jump to CancelTrainTicket.
      - errors:
          - FC.Unknown
        goto: CancelTrainTicket
  - type: task
    resourceArn: acs:fc:cn-hangzhou:123456789:services/fnf-demo/functions/Operation
    name: ReserveHotel
    inputMappings:
      - target: operation
        source: reserve_hotel
      - target: reserve_hotel
        source: $input.reserve_hotel_result
    retry: # Up to three retries with exponential backoff: 1s, then twice the previous interval.
      - errors:
          - FC.Unknown
        intervalSeconds: 1
        maxAttempts: 3
        multiplier: 2
    catch: # When ReserveHotel still fails with FC.Unknown, jump to CancelFlight.
      - errors:
          - FC.Unknown
        goto: CancelFlight
  - type: succeed
    name: OrderSucceeded
  - type: task
    resourceArn: acs:fc:cn-hangzhou:123456789:services/fnf-demo/functions/Operation
    name: CancelFlight
    inputMappings:
      - target: operation
        source: cancel_flight
      - target: reserve_flight_txnID
        source: $local.reserve_flight_txnID
  - type: task
    resourceArn: acs:fc:cn-hangzhou:123456789:services/fnf-demo/functions/Operation
    name: CancelTrainTicket
    inputMappings:
      - target: operation
        source: cancel_train_ticket
      - target: buy_train_ticket_txnID
        source: $local.buy_train_ticket_txnID
  - type: fail
    name: OrderFailed
    error: OrderFailed
    cause: the order could not be completed
"""
