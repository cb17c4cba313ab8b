SELECT COUNT(*)${mark_into}
  FROM (
  ${merge_source}
  ) AS s
  JOIN ${final} AS t ON ${key_join}
  WHERE ${tombstone_acts}
