from django.db import migrations

# A rebuild after an update or delete cannot see the rollup row of a
# concurrent insert that has not committed, so it collided with that row
# (a unique violation) once the insert committed. Rollup writes of one bed
# now take turns: a statement trigger locks the beds of the changed readings
# before the rollup triggers run. PostgreSQL fires triggers of one event in
# name order, so "observation_rollup_0_lock_*" comes first. The locks are
# held to the end of the transaction, so the other transaction's next
# statement sees what this one wrote, and they are taken in bed order, so
# two transactions cannot deadlock on them.
CREATE_LOCKS = """
CREATE FUNCTION twins_observation_rollup_lock(bed_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- PERFORM runs the query to the end, so every bed is locked.
    PERFORM pg_advisory_xact_lock(hashtext('twins_observationrollup'), bed_id::int)
    FROM (SELECT DISTINCT unnest(bed_ids) AS bed_id ORDER BY 1) AS beds;
END
$$;

CREATE FUNCTION twins_observation_rollup_lock_beds() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- plpgsql plans each branch only when it runs, so no branch refers to
    -- a transition table its event lacks.
    IF TG_OP = 'INSERT' THEN
        PERFORM twins_observation_rollup_lock(ARRAY(SELECT bed_id FROM added));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM twins_observation_rollup_lock(
            ARRAY(SELECT bed_id FROM removed UNION SELECT bed_id FROM added));
    ELSE
        PERFORM twins_observation_rollup_lock(ARRAY(SELECT bed_id FROM removed));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER observation_rollup_0_lock_insert
AFTER INSERT ON twins_observation
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION twins_observation_rollup_lock_beds();

CREATE TRIGGER observation_rollup_0_lock_update
AFTER UPDATE ON twins_observation
REFERENCING OLD TABLE AS removed NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION twins_observation_rollup_lock_beds();

CREATE TRIGGER observation_rollup_0_lock_delete
AFTER DELETE ON twins_observation
REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION twins_observation_rollup_lock_beds();
"""

DROP_LOCKS = """
DROP TRIGGER observation_rollup_0_lock_insert ON twins_observation;
DROP TRIGGER observation_rollup_0_lock_update ON twins_observation;
DROP TRIGGER observation_rollup_0_lock_delete ON twins_observation;
DROP FUNCTION twins_observation_rollup_lock_beds();
DROP FUNCTION twins_observation_rollup_lock(bigint[]);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0007_observation_rollup"),
    ]

    operations = [migrations.RunSQL(CREATE_LOCKS, DROP_LOCKS)]
