import asyncio
from flowweaver import Task, Workflow, AsyncExecutor

async def fetch_user(user_id: int) -> dict:
    # Simulated async I/O
    await asyncio.sleep(0.1)
    return {"id": user_id, "name": f"User{user_id}"}

async def fetch_orders(user_id: int) -> dict:
    await asyncio.sleep(0.1)
    return {"user_id": user_id, "orders": []}

workflow = Workflow(name="Data Fetch")

# Create tasks for multiple users - these will run in parallel
for user_id in range(1, 4):
    task = Task(name=f"user_{user_id}", fn=lambda uid=user_id: fetch_user(uid))
    workflow.add_task(task)

# Run in parallel (completes in ~0.1s, not 0.3s)
executor = AsyncExecutor()
executor.execute(workflow)

stats = workflow.get_workflow_stats()
print(f"Completed {stats['completed']} tasks in {stats['total_time_seconds']:.3f}s")
