"""The analyses the notebooks run, each in a module named for its study; arrays and dicts in,
arrays and dicts out (their pictures are in :mod:`dtgkit.viz`):

* :mod:`~dtgkit.studies.geometry` - Figure 2 made measurable: DistInit vs DTG fitting the same
  student to the same guidance (toy problems and real SynthActions features);
* :mod:`~dtgkit.studies.queue_dynamics` - a short DTG run on cached features, the queue
  recorded at every step;
* :mod:`~dtgkit.studies.guidance_space` - the fused guidance space of differentiated teachers
  (Eq. 1) and its class separation under any weighting;
* :mod:`~dtgkit.studies.teacher_probes` - what each frozen teacher sees (retrieval, class
  similarity, kNN / linear probes, confusable pairs);
* :mod:`~dtgkit.studies.frames` - the per-frame data of a split that the first two use.
"""
